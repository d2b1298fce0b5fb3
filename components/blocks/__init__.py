"""Reusable ComponentResources (bucket, service image, load balancer, GPU capacity, alarm
topic, audit logs, quota requests). A block may import parts, lib and config (for the
``from_settings`` constructor of its Args), never a stack."""
