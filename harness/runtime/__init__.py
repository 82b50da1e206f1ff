"""The Docker runtime: engine connection, image builds, isolated container runs, cell inputs."""
