"""Data in and out of the core without ROS: rosbag2 bags via ``rosbags`` (``ifgrasp.io.bags``) and
the RealSense depth encoding (``ifgrasp.io.depth``)."""
