//! A task's method descriptor: from its `.proto` file, compiled once per
//! test by protox (the file and its imports read through the test's paths,
//! relative to the file's folder, as `protoc -I FOLDER FILE` would;
//! `google/protobuf/*.proto` built in), or from the server's reflection
//! service (`grpc.reflection.v1`, else `v1alpha`), asked on the task's
//! first call, over the calling user's own channel.
//!
//! Limits: a `.proto` file is at most [`MAX_PROTO_BYTES`] (or the
//! agent's `--max-file-bytes`, if lower); reflection
//! fetches at most [`MAX_REFLECTED_FILES`] files, of at most
//! [`MAX_REFLECTED_BYTES`] in all.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::uri::PathAndQuery;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, MethodDescriptor};
use prost_types::FileDescriptorProto;
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};
use serde_json::Value;
use tonic::{Code, Status};

use super::wire::{Channel, Raw};
use super::Rpc;
use crate::paths::Paths;
use crate::policy::{file_limit, file_over};

/// The largest `.proto` file read: 4 MiB.
pub(super) const MAX_PROTO_BYTES: u64 = 4 * 1024 * 1024;

/// The most files server reflection may hand over for one service.
pub(super) const MAX_REFLECTED_FILES: usize = 512;

/// The most bytes of descriptors server reflection may hand over for one
/// service: 16 MiB.
pub(super) const MAX_REFLECTED_BYTES: usize = 16 * 1024 * 1024;

/// `proto` compiled with its imports; the error is protox's (with the
/// file, line and column) or the file's.
pub(super) fn compile(paths: &Paths, proto: &str) -> Result<DescriptorPool, String> {
    let given = Path::new(proto);
    let dir = given.parent().map(Path::to_path_buf).unwrap_or_default();
    let file = given
        .file_name()
        .ok_or_else(|| format!("{proto:?} names no file"))?;
    let mut resolver = ChainFileResolver::new();
    resolver.add(Confined {
        paths: paths.clone(),
        dir,
    });
    resolver.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true);
    compiler
        .open_file(Path::new(file))
        .map_err(|e| format!("{proto}: {e}"))?;
    Ok(compiler.descriptor_pool())
}

/// Opens `.proto` files below one folder, through the test's paths.
struct Confined {
    paths: Paths,
    dir: PathBuf,
}

impl FileResolver for Confined {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        let path = self.dir.join(name);
        let resolved = self
            .paths
            .resolve(&path)
            .map_err(|e| protox::Error::new(e.to_string()))?;
        let file = match resolved.open() {
            Ok(file) => file,
            Err(crate::paths::PathError::Io(_, e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(protox::Error::file_not_found(name))
            }
            Err(e) => return Err(protox::Error::new(e.to_string())),
        };
        let mut source = String::new();
        let (max, agents) = file_limit(self.paths.max_file_bytes(), MAX_PROTO_BYTES);
        file.take(max + 1)
            .read_to_string(&mut source)
            .map_err(|e| protox::Error::new(format!("{}: {e}", path.display())))?;
        if source.len() as u64 > max {
            return Err(protox::Error::new(if agents {
                file_over(&path.display().to_string(), max)
            } else {
                format!(
                    "{}: larger than {} MiB, too large for a .proto file",
                    path.display(),
                    MAX_PROTO_BYTES / (1024 * 1024)
                )
            }));
        }
        File::from_source(name, &source)
    }
}

/// `service`'s `method` in `pool`, checked against `rpc`; the error names
/// the key at fault (`service`, `method`, `rpc`) and what there is.
pub(super) fn method(
    pool: &DescriptorPool,
    service: &str,
    method: &str,
    rpc: Rpc,
) -> Result<MethodDescriptor, (&'static str, String)> {
    let found = pool.get_service_by_name(service).ok_or_else(|| {
        let known: Vec<String> = pool.services().map(|s| s.full_name().to_owned()).collect();
        (
            "service",
            format!(
                "no service {service:?} (known: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ),
        )
    })?;
    let descriptor = found
        .methods()
        .find(|m| m.name() == method)
        .ok_or_else(|| {
            let known: Vec<String> = found.methods().map(|m| m.name().to_owned()).collect();
            (
                "method",
                format!(
                    "{service} has no method {method:?} (it has: {})",
                    known.join(", ")
                ),
            )
        })?;
    let actual = match (
        descriptor.is_client_streaming(),
        descriptor.is_server_streaming(),
    ) {
        (false, false) => Rpc::Unary,
        (false, true) => Rpc::ServerStream,
        (true, false) => Rpc::ClientStream,
        (true, true) => Rpc::Bidi,
    };
    if actual != rpc {
        return Err((
            "rpc",
            format!(
                "{} is a {} method, not {}: write \"rpc\": \"{}\"",
                descriptor.full_name(),
                actual.as_str(),
                rpc.as_str(),
                actual.as_str()
            ),
        ));
    }
    Ok(descriptor)
}

/// `value` (the message's JSON mapping) encoded as a `message`; the error
/// is prost-reflect's (an unknown field, a wrong type).
pub(super) fn encode(message: &MessageDescriptor, value: Value) -> Result<Bytes, String> {
    DynamicMessage::deserialize(message.clone(), value)
        .map(|m| Bytes::from(m.encode_to_vec()))
        .map_err(|e| format!("not a {}: {e}", message.full_name()))
}

/// Whether `bytes` decode as a `message`; the error says why not.
pub(super) fn check(message: &MessageDescriptor, bytes: Bytes) -> Result<(), String> {
    DynamicMessage::decode(message.clone(), bytes)
        .map(drop)
        .map_err(|e| format!("the response is not a valid {}: {e}", message.full_name()))
}

// ------------------------------------------------------------ reflection

/// `grpc.reflection.v1.ServerReflectionRequest` (the fields asked here;
/// `v1alpha` is the same on the wire).
#[derive(Clone, PartialEq, prost::Message)]
struct ReflectionRequest {
    #[prost(string, tag = "1")]
    host: String,
    #[prost(oneof = "Ask", tags = "3, 4")]
    ask: Option<Ask>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum Ask {
    #[prost(string, tag = "3")]
    FileByFilename(String),
    #[prost(string, tag = "4")]
    FileContainingSymbol(String),
}

/// `ServerReflectionResponse` (the answers read here).
#[derive(Clone, PartialEq, prost::Message)]
struct ReflectionResponse {
    #[prost(oneof = "Answer", tags = "4, 7")]
    answer: Option<Answer>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum Answer {
    #[prost(message, tag = "4")]
    Files(FileDescriptorResponse),
    #[prost(message, tag = "7")]
    Error(ErrorResponse),
}

#[derive(Clone, PartialEq, prost::Message)]
struct FileDescriptorResponse {
    #[prost(bytes = "bytes", repeated, tag = "1")]
    file_descriptor_proto: Vec<Bytes>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ErrorResponse {
    #[prost(int32, tag = "1")]
    error_code: i32,
    #[prost(string, tag = "2")]
    error_message: String,
}

const REFLECTION_V1: &str = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
const REFLECTION_V1ALPHA: &str = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

/// Why reflection failed: a status (the channel may be at fault), or
/// something the server answered.
#[derive(Debug)]
pub(super) enum Reflected {
    /// A call's status (from the server, or the transport).
    Status(Status),
    /// The server's answer was unusable.
    Answer(String),
}

/// The descriptors of the file defining `service` and of everything it
/// imports, asked of the server's reflection service over `channel`.
pub(super) async fn reflect(
    channel: &mut Channel,
    service: &str,
) -> Result<DescriptorPool, Reflected> {
    match session(channel, REFLECTION_V1, service).await {
        Err(Reflected::Status(status)) if status.code() == Code::Unimplemented => {
            session(channel, REFLECTION_V1ALPHA, service).await
        }
        other => other,
    }
}

/// One reflection stream at `path`: asks for the file containing
/// `service`, then for each import not yet handed over.
async fn session(
    channel: &mut Channel,
    path: &'static str,
    service: &str,
) -> Result<DescriptorPool, Reflected> {
    let (asks, asked) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let stream = futures_util::stream::unfold(asked, |mut asked| async move {
        asked.recv().await.map(|ask| (ask, asked))
    });
    let send = |ask: Ask| {
        let request = ReflectionRequest {
            host: String::new(),
            ask: Some(ask),
        };
        let _ = asks.send(Bytes::from(request.encode_to_vec()));
    };
    send(Ask::FileContainingSymbol(service.to_owned()));
    channel
        .ready()
        .await
        .map_err(|e| Reflected::Status(Status::from_error(e.into())))?;
    let mut answers = channel
        .streaming(
            tonic::Request::new(stream),
            PathAndQuery::from_static(path),
            Raw,
        )
        .await
        .map_err(Reflected::Status)?
        .into_inner();
    let mut files: HashMap<String, FileDescriptorProto> = HashMap::new();
    let mut requested: HashSet<String> = HashSet::new();
    let mut pending = 1usize;
    let mut received = 0usize;
    while pending > 0 {
        let Some(answer) = answers.message().await.map_err(Reflected::Status)? else {
            return Err(Reflected::Answer(
                "the reflection stream ended before every file was sent".into(),
            ));
        };
        pending -= 1;
        received += answer.len();
        if received > MAX_REFLECTED_BYTES {
            return Err(Reflected::Answer(format!(
                "more than {} MiB of descriptors",
                MAX_REFLECTED_BYTES / (1024 * 1024)
            )));
        }
        let answer = ReflectionResponse::decode(answer)
            .map_err(|e| Reflected::Answer(format!("not a reflection response: {e}")))?;
        match answer.answer {
            Some(Answer::Files(found)) => {
                for bytes in found.file_descriptor_proto {
                    let file = FileDescriptorProto::decode(bytes)
                        .map_err(|e| Reflected::Answer(format!("not a file descriptor: {e}")))?;
                    files.entry(file.name().to_owned()).or_insert(file);
                }
            }
            Some(Answer::Error(error)) => {
                return Err(Reflected::Answer(format!(
                    "{} (code {})",
                    error.error_message,
                    Code::from_i32(error.error_code).description()
                )))
            }
            None => return Err(Reflected::Answer("an answer of an unknown kind".into())),
        }
        if files.len() > MAX_REFLECTED_FILES {
            return Err(Reflected::Answer(format!(
                "more than {MAX_REFLECTED_FILES} files"
            )));
        }
        let missing: Vec<String> = files
            .values()
            .flat_map(|f| f.dependency.iter())
            .filter(|d| !files.contains_key(*d) && !requested.contains(*d))
            .cloned()
            .collect();
        for name in missing {
            if requested.insert(name.clone()) {
                send(Ask::FileByFilename(name));
                pending += 1;
            }
        }
    }
    drop(asks);
    let mut pool = DescriptorPool::new();
    pool.add_file_descriptor_protos(files.into_values())
        .map_err(|e| Reflected::Answer(format!("the server's descriptors do not build: {e}")))?;
    Ok(pool)
}
