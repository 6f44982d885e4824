"""The runtime that talks to Amazon Bedrock and STS: no views, no models."""
