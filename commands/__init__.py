"""Scrapy commands of our own (COMMANDS_MODULE): only where Scrapy's do not serve."""
