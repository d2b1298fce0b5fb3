"""The ML platform: read the stack's settings, build the enabled stacks, export their outputs."""

import pulumi

from components import settings as config
from components.network import NetworkArgs, NetworkStack

try:
    settings = config.load()
except config.ConfigError as error:
    # RunError ends the program with just this message: no resource has been registered.
    raise pulumi.RunError(str(error)) from None

if settings.stacks.network:
    network = NetworkStack("network", NetworkArgs.from_settings(settings))
    pulumi.export("vpc_id", network.vpc_id)
    pulumi.export("public_subnet_ids", network.public_subnet_ids)
    pulumi.export("private_subnet_ids", network.private_subnet_ids)
