//! The report actions: `LD_generate_html_report`, `LD_generate_json_report`,
//! `LD_generate_xml_report`, `LD_generate_csv_report`,
//! `LD_generate_junit_report`, `LD_generate_summary_report` (each writes
//! `<name>.<ext>` below the working directory and returns what it wrote),
//! and `LD_generate_html`, `LD_generate_json`, `LD_generate_xml` (the
//! document itself, unwritten).

use crate::auth::Scope;

use serde_json::{json, Value};

use super::error;
use super::{ActionContext, ActionError, Args, Registry, Signature};
use crate::reports::{csv, files, html, junit, xml, Report};

pub(super) fn register(registry: &mut Registry) {
    registry
        .register_scoped("LD_generate_html_report", Scope::Write, html_report)
        .register_scoped("LD_generate_json_report", Scope::Write, json_report)
        .register_scoped("LD_generate_xml_report", Scope::Write, xml_report)
        .register_scoped("LD_generate_csv_report", Scope::Write, csv_report)
        .register_scoped("LD_generate_junit_report", Scope::Write, junit_report)
        .register_scoped("LD_generate_summary_report", Scope::Write, summary_report)
        .register_scoped("LD_generate_html", Scope::Read, html_document)
        .register_scoped("LD_generate_json", Scope::Read, json_document)
        .register_scoped("LD_generate_xml", Scope::Read, xml_document)
        .describe("LD_generate_html_report", named::<HtmlName>())
        .describe("LD_generate_json_report", named::<JsonName>())
        .describe("LD_generate_xml_report", named::<XmlName>())
        .describe("LD_generate_csv_report", named::<CsvName>())
        .describe("LD_generate_junit_report", named::<ReportName>())
        .describe("LD_generate_summary_report", named::<ReportName>())
        .describe("LD_generate_html", Signature::none())
        .describe("LD_generate_json", Signature::none())
        .describe("LD_generate_xml", Signature::none());
}

/// LoadDensity's default report name.
const DEFAULT_NAME: &str = "default_name";
/// The title of documents returned unwritten.
const TITLE: &str = "ld-tower load test report";

/// A report action's one argument, its file's name: by keyword or first
/// positional; `null` or absent means the action's default.
trait NameArg: serde::de::DeserializeOwned + schemars::JsonSchema {
    /// Its keyword, alone.
    const KEY: &'static [&'static str];
    /// The name given, if any.
    fn given(self) -> Option<String>;
}

/// A [`NameArg`] type named `$type`, of keyword `$key`.
macro_rules! name_arg {
    ($type:ident, $key:ident) => {
        #[derive(serde::Deserialize, schemars::JsonSchema)]
        #[serde(deny_unknown_fields)]
        struct $type {
            /// The file's name, without its extension.
            #[serde(default)]
            $key: Option<String>,
        }

        impl NameArg for $type {
            const KEY: &'static [&'static str] = &[stringify!($key)];
            fn given(self) -> Option<String> {
                self.$key
            }
        }
    };
}

name_arg!(HtmlName, html_name);
name_arg!(JsonName, json_file_name);
name_arg!(XmlName, xml_file_name);
name_arg!(CsvName, csv_name);
name_arg!(ReportName, report_name);

/// The name `T` takes from `args`, or `default`.
fn name_arg<T: NameArg>(args: Args, default: &str) -> Result<String, ActionError> {
    let given: T = args.parse(T::KEY)?;
    Ok(given.given().unwrap_or_else(|| default.to_owned()))
}

/// `T`'s signature.
fn named<T: NameArg>() -> Signature {
    Signature::of::<T>(T::KEY)
}

/// The report of the state's figures, titled after the file's name.
fn report(ctx: &ActionContext, name: &str) -> Report {
    Report::from_state(ctx.state(), &format!("ld-tower load test report: {name}"))
}

async fn write(
    ctx: &ActionContext,
    name: &str,
    extension: &str,
    contents: Vec<u8>,
) -> Result<String, ActionError> {
    let path = files::write_report(ctx.state().paths(), name, extension, contents)
        .await
        .map_err(error)?;
    Ok(path.display().to_string())
}

/// Writes `<html_name>.html`; returns its path.
async fn html_report(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let name = name_arg::<HtmlName>(args, DEFAULT_NAME)?;
    let document = html::render(&report(&ctx, &name));
    Ok(json!(
        write(&ctx, &name, "html", document.into_bytes()).await?
    ))
}

/// Writes `<json_file_name>.json` (the report model); returns `[path]`.
async fn json_report(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let name = name_arg::<JsonName>(args, DEFAULT_NAME)?;
    let mut document = serde_json::to_vec_pretty(&report(&ctx, &name)).map_err(error)?;
    document.push(b'\n');
    Ok(json!([write(&ctx, &name, "json", document).await?]))
}

/// Writes `<xml_file_name>.xml`; returns `[path]`.
async fn xml_report(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let name = name_arg::<XmlName>(args, DEFAULT_NAME)?;
    let document = xml::render(&report(&ctx, &name)).map_err(error)?;
    Ok(json!([
        write(&ctx, &name, "xml", document.into_bytes()).await?
    ]))
}

/// Writes `<csv_name>.csv`, one row per request name; returns its path.
async fn csv_report(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let name = name_arg::<CsvName>(args, DEFAULT_NAME)?;
    let document = csv::render(&report(&ctx, &name)).map_err(error)?;
    Ok(json!(write(&ctx, &name, "csv", document).await?))
}

/// Writes `<report_name>.xml` as JUnit XML; returns its path.
async fn junit_report(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let name = name_arg::<ReportName>(args, "loaddensity-junit")?;
    let document = junit::render(&report(&ctx, &name)).map_err(error)?;
    Ok(json!(
        write(&ctx, &name, "xml", document.into_bytes()).await?
    ))
}

/// Writes `<report_name>.json` holding `LD_summary`'s result; returns its path.
async fn summary_report(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let name = name_arg::<ReportName>(args, "loaddensity-summary")?;
    let summary = ctx.state().figures(|figures| figures.summary());
    let mut document = serde_json::to_vec_pretty(&summary).map_err(error)?;
    document.push(b'\n');
    Ok(json!(write(&ctx, &name, "json", document).await?))
}

/// The HTML report itself.
async fn html_document(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    args.none()?;
    Ok(json!(html::render(&Report::from_state(ctx.state(), TITLE))))
}

/// The report model as JSON.
async fn json_document(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    args.none()?;
    serde_json::to_value(Report::from_state(ctx.state(), TITLE)).map_err(error)
}

/// The XML report itself.
async fn xml_document(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    args.none()?;
    let document = xml::render(&Report::from_state(ctx.state(), TITLE)).map_err(error)?;
    Ok(json!(document))
}
