"""The Hokusai API (seed 002): API keys, Ethereum-address sign-in and read access to MLflow's
model registry, behind the data platform's load balancer at ``/api``."""
