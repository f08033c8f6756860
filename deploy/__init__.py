"""Running scopes-arena for real: a throwaway PostgreSQL (deploy.postgres), the cluster."""
