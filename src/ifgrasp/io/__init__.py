"""Data in and out of the core without ROS: rosbag2 bags via ``rosbags`` (``ifgrasp.io.bags``), the
RealSense depth encoding (``ifgrasp.io.depth``) and evaluations' JSONL row logs (``ifgrasp.io.rows``)."""
