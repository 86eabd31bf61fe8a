"""The package version, read by the build and by the SDK identity sent to the server."""

VERSION = "7.0.0"
SDK_NAME = "raven-ng"
CLIENT_NAME = f"{SDK_NAME}/{VERSION}"
