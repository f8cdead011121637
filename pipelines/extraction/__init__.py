"""Reading an article out of a page: text, title, date, language, canonical URL."""
