"""What the bot does with an event: the form engine, commands and the sales flows."""
