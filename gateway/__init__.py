"""The OpenAI-compatible gateway: chat completions and the model list, over the console's
integrations and API tokens."""
