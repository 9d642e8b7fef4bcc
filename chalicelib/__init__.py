"""imgshelf: an Imgur API v2 compatible image host for AWS Lambda."""
