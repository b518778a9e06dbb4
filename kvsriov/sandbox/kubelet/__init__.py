"""Stand-ins for the kubelet's gRPC services, over real unix sockets."""
