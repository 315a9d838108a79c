"""The `newswire` command: one surface for people, docker-compose and CI."""
