"""Functions that create resources under their caller's parent (``opts`` passed in): a
role with its inline policy, a secret with its value, ECS task roles and log configuration,
application auto scaling, security group rules. A part may import lib only."""
