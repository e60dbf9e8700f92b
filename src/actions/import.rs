//! The importers' actions (LoadDensity's `utils/recording` and
//! `utils/action_generator`): `LD_load_har`, `LD_har_to_tasks`,
//! `LD_har_to_action_json`, `LD_curl_to_task`, `LD_load_openapi`,
//! `LD_openapi_to_tasks`, `LD_openapi_to_action_json`,
//! `LD_load_postman_collection`, `LD_postman_to_tasks`,
//! `LD_postman_to_action_json`, `LD_generate_from_openapi`,
//! `LD_generate_from_curls` (see [`crate::import`]).
//!
//! A document argument (`har`, `spec`, `collection`) is the document itself
//! (a JSON object), a string holding it (one that starts with `{` or spans
//! lines: JSON, or YAML for OpenAPI), or else a file's path; a path is
//! read through the server's path rule, bounded as an action file is, and
//! needs the scope file-reading actions need (`write`).

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::builtin::read_action_file;
use super::{ActionContext, ActionError, Args, Registry};
use crate::auth::Scope;
use crate::import::action::{self, TestSettings};
use crate::import::{curl, har, openapi, parse_document, postman, Filters, ImportError, Imported};

pub(super) fn register(registry: &mut Registry) {
    registry
        .register_scoped("LD_load_har", Scope::Write, load_har)
        .register_scoped("LD_har_to_tasks", Scope::Read, har_to_tasks)
        .register_scoped("LD_har_to_action_json", Scope::Read, har_to_action_json)
        .register_scoped("LD_curl_to_task", Scope::Read, curl_to_task)
        .register_scoped("LD_load_openapi", Scope::Write, load_openapi)
        .register_scoped("LD_openapi_to_tasks", Scope::Read, openapi_to_tasks)
        .register_scoped(
            "LD_openapi_to_action_json",
            Scope::Read,
            openapi_to_action_json,
        )
        .register_scoped("LD_load_postman_collection", Scope::Write, load_postman)
        .register_scoped("LD_postman_to_tasks", Scope::Read, postman_to_tasks)
        .register_scoped(
            "LD_postman_to_action_json",
            Scope::Read,
            postman_to_action_json,
        )
        .register_scoped(
            "LD_generate_from_openapi",
            Scope::Write,
            generate_from_openapi,
        )
        .register_scoped("LD_generate_from_curls", Scope::Read, generate_from_curls);
}

/// A document kind: what it is called in messages, and whether YAML is read.
#[derive(Clone, Copy)]
struct Kind {
    what: &'static str,
    yaml: bool,
}

const HAR: Kind = Kind {
    what: "the HAR",
    yaml: false,
};
const OPENAPI: Kind = Kind {
    what: "the OpenAPI description",
    yaml: true,
};
const POSTMAN: Kind = Kind {
    what: "the Postman collection",
    yaml: false,
};

fn failed(error: ImportError) -> ActionError {
    ActionError::new(error.to_string())
}

/// Reads the document at `path` through the path rule, bounded as an
/// action file is.
async fn read(
    ctx: &ActionContext,
    path: &std::path::Path,
    kind: Kind,
) -> Result<Value, ActionError> {
    let paths = ctx.state().paths();
    let target = paths
        .resolve(path)
        .map_err(|e| ActionError::new(e.to_string()))?;
    let bytes = read_action_file(target, paths)
        .await
        .map_err(ActionError::new)?;
    let what = format!("{} {}", kind.what, path.display());
    off_thread(move || parse_document(&bytes, &what, kind.yaml)).await
}

/// A document argument: the document, a string holding it, or a path.
async fn document(ctx: &ActionContext, given: Value, kind: Kind) -> Result<Value, ActionError> {
    match given {
        Value::Object(_) => Ok(given),
        Value::String(text) if text.contains('\n') || text.trim_start().starts_with('{') => {
            off_thread(move || parse_document(text.as_bytes(), kind.what, kind.yaml)).await
        }
        Value::String(path) => {
            if !ctx.allows(Scope::Write) {
                ctx.state().security().forbidden(1);
                let who = ctx.principal().map_or("this client", |p| p.name());
                return Err(ActionError::new(format!(
                    "reading {} from a file needs the write scope, which {who} lacks: give \
                     the document itself",
                    kind.what
                )));
            }
            read(ctx, std::path::Path::new(&path), kind).await
        }
        _ => Err(ActionError::new(format!(
            "{} must be a JSON object, a string holding one, or a file's path",
            kind.what
        ))),
    }
}

/// Runs an import on the blocking pool (a large document takes a while).
async fn off_thread<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ImportError> + Send + 'static,
) -> Result<T, ActionError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ActionError::new(format!("the import stopped: {e}")))?
        .map_err(failed)
}

/// The arguments named `names` (positional ones bound in that order), the
/// test's `user, user_count, spawn_rate, test_time` taken out of them
/// (`defaults` for those not given); the rest deserialized into `T`.
fn with_settings<T: serde::de::DeserializeOwned>(
    args: Args,
    names: &[&str],
    defaults: TestSettings,
) -> Result<(T, TestSettings), ActionError> {
    let mut map = args.into_map(names)?;
    let mut take = |key: &str, default: Value| map.remove(key).unwrap_or(default);
    let settings = TestSettings {
        user: take("user", defaults.user),
        user_count: take("user_count", defaults.user_count),
        spawn_rate: take("spawn_rate", defaults.spawn_rate),
        test_time: take("test_time", defaults.test_time),
    };
    Ok((Args::Keywords(map).parse(&[])?, settings))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadFile {
    file_path: PathBuf,
}

async fn load(ctx: ActionContext, args: Args, kind: Kind) -> Result<Value, ActionError> {
    let LoadFile { file_path } = args.parse(&["file_path"])?;
    read(&ctx, &file_path, kind).await
}

/// `LD_load_har(file_path)`: the HAR file, parsed.
async fn load_har(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    load(ctx, args, HAR).await
}

/// `LD_load_openapi(file_path)`: the OpenAPI file (JSON or YAML), parsed.
async fn load_openapi(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    load(ctx, args, OPENAPI).await
}

/// `LD_load_postman_collection(file_path)`: the collection file, parsed.
async fn load_postman(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    load(ctx, args, POSTMAN).await
}

/// `har, include, exclude`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HarGiven {
    har: Value,
    #[serde(default)]
    include: Option<Value>,
    #[serde(default)]
    exclude: Option<Value>,
}

async fn har_imported(ctx: &ActionContext, given: HarGiven) -> Result<Imported, ActionError> {
    let filters = Filters::new(given.include.as_ref(), given.exclude.as_ref()).map_err(failed)?;
    let har = document(ctx, given.har, HAR).await?;
    off_thread(move || har::to_tasks(&har, &filters)).await
}

/// `LD_har_to_tasks(har, include=None, exclude=None)`: the list of tasks.
async fn har_to_tasks(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let given: HarGiven = args.parse(&["har", "include", "exclude"])?;
    Ok(Value::Array(har_imported(&ctx, given).await?.tasks))
}

/// `LD_har_to_action_json(har, user='fast_http_user', user_count=10,
/// spawn_rate=5, test_time=60, include=None, exclude=None)`.
async fn har_to_action_json(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let (given, settings) = with_settings(
        args,
        &[
            "har",
            "user",
            "user_count",
            "spawn_rate",
            "test_time",
            "include",
            "exclude",
        ],
        TestSettings::importers(),
    )?;
    let imported = har_imported(&ctx, given).await?;
    Ok(action::start_test(
        imported.tasks,
        &settings,
        &imported.variables,
    ))
}

/// `LD_curl_to_task(command)`: one task.
async fn curl_to_task(_ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Given {
        command: String,
    }
    let Given { command } = args.parse(&["command"])?;
    curl::to_task(&command).map_err(failed)
}

/// `spec, base_url`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenapiGiven {
    spec: Value,
    #[serde(default)]
    base_url: Option<String>,
}

async fn openapi_imported(
    ctx: &ActionContext,
    given: OpenapiGiven,
) -> Result<Imported, ActionError> {
    let spec = document(ctx, given.spec, OPENAPI).await?;
    let base_url = given.base_url;
    off_thread(move || openapi::to_tasks(&spec, base_url.as_deref())).await
}

/// `LD_openapi_to_tasks(spec, base_url=None)`: the list of tasks.
async fn openapi_to_tasks(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let given: OpenapiGiven = args.parse(&["spec", "base_url"])?;
    Ok(Value::Array(openapi_imported(&ctx, given).await?.tasks))
}

/// `LD_openapi_to_action_json(spec, user, user_count=10, spawn_rate=5,
/// test_time=60, base_url=None)`: `base_url` and the registered path
/// parameters' examples are ld-tower's.
async fn openapi_to_action_json(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let (given, settings) = with_settings(
        args,
        &[
            "spec",
            "user",
            "user_count",
            "spawn_rate",
            "test_time",
            "base_url",
        ],
        TestSettings::importers(),
    )?;
    let imported = openapi_imported(&ctx, given).await?;
    Ok(action::start_test(
        imported.tasks,
        &settings,
        &imported.variables,
    ))
}

/// `collection`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PostmanGiven {
    collection: Value,
}

async fn postman_imported(
    ctx: &ActionContext,
    given: PostmanGiven,
) -> Result<Imported, ActionError> {
    let collection = document(ctx, given.collection, POSTMAN).await?;
    off_thread(move || postman::to_tasks(&collection)).await
}

/// `LD_postman_to_tasks(collection)`: the list of tasks.
async fn postman_to_tasks(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let given: PostmanGiven = args.parse(&["collection"])?;
    Ok(Value::Array(postman_imported(&ctx, given).await?.tasks))
}

/// `LD_postman_to_action_json(collection, user, user_count=10,
/// spawn_rate=5, test_time=60)`: the collection's variables registered
/// first (ld-tower's).
async fn postman_to_action_json(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let (given, settings) = with_settings(
        args,
        &[
            "collection",
            "user",
            "user_count",
            "spawn_rate",
            "test_time",
        ],
        TestSettings::importers(),
    )?;
    let imported = postman_imported(&ctx, given).await?;
    Ok(action::start_test(
        imported.tasks,
        &settings,
        &imported.variables,
    ))
}

/// `LD_generate_from_openapi(openapi_path, user, user_count=20,
/// spawn_rate=5, test_time=60, variables=None, base_url=None)`: the path
/// parameters' examples registered too, `variables` winning.
async fn generate_from_openapi(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Given {
        openapi_path: PathBuf,
        #[serde(default)]
        variables: Option<Map<String, Value>>,
        #[serde(default)]
        base_url: Option<String>,
    }
    let (given, settings): (Given, _) = with_settings(
        args,
        &[
            "openapi_path",
            "user",
            "user_count",
            "spawn_rate",
            "test_time",
            "variables",
            "base_url",
        ],
        TestSettings::generator(),
    )?;
    let spec = read(&ctx, &given.openapi_path, OPENAPI).await?;
    let base_url = given.base_url;
    let mut imported = off_thread(move || openapi::to_tasks(&spec, base_url.as_deref())).await?;
    imported
        .variables
        .extend(given.variables.unwrap_or_default());
    Ok(action::generated(
        imported.tasks,
        &settings,
        &imported.variables,
    ))
}

/// `LD_generate_from_curls(curls, user, user_count=20, spawn_rate=5,
/// test_time=60, variables=None)`: a command that cannot be imported fails
/// the action, naming it (LoadDensity skipped it with a warning).
async fn generate_from_curls(_ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Given {
        curls: Vec<String>,
        #[serde(default)]
        variables: Option<Map<String, Value>>,
    }
    let (given, settings): (Given, _) = with_settings(
        args,
        &[
            "curls",
            "user",
            "user_count",
            "spawn_rate",
            "test_time",
            "variables",
        ],
        TestSettings::generator(),
    )?;
    let tasks = curl::to_tasks(&given.curls).map_err(failed)?;
    Ok(action::generated(
        tasks,
        &settings,
        &given.variables.unwrap_or_default(),
    ))
}
