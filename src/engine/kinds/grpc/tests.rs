//! Parsing a `grpc_user` task list: errors at their JSON path.
