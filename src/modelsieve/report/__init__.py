"""Pure formatters: Report in, text out. Nothing here prints."""
