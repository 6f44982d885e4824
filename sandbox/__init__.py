"""Local emulator of Amazon STS and Amazon Bedrock Runtime that verifies SigV4 like AWS.

Pure standard library on purpose: it runs in tests, benchmarks and demos without Django or AWS.
Start it with ``python -m sandbox`` or ``sandbox.server.SandboxServer``.
"""

PLATFORM_ACCESS_KEY_ID = "AKIASANDBOXPLATFORM0"
PLATFORM_SECRET_ACCESS_KEY = "sandbox-platform-secret-key-not-for-aws"  # noqa: S105 - fake key
PLATFORM_ACCOUNT = "123456789012"
PLATFORM_ARN = "arn:aws:iam::123456789012:user/bedrock-console-platform"
DEMO_ROLE_ARN = "arn:aws:iam::111122223333:role/BedrockConsoleSandbox"
DEMO_EXTERNAL_ID = "bedrock-console-sandbox-demo"
DEMO_MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
DEFAULT_PORT = 4599

__all__ = [
    "DEFAULT_PORT",
    "DEMO_EXTERNAL_ID",
    "DEMO_MODEL_ID",
    "DEMO_ROLE_ARN",
    "PLATFORM_ACCESS_KEY_ID",
    "PLATFORM_ACCOUNT",
    "PLATFORM_ARN",
    "PLATFORM_SECRET_ACCESS_KEY",
]
