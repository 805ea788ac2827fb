"""rclpy nodes of ifgrasp; each is a thin wrapper over an ``ifgrasp`` core object."""
