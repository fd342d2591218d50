//! `cyberlabel schemes`: the scheme catalog in plain words (or JSON), and the catalog every
//! command uses: the built-in one, plus an issuing body's own schemes from the JSON file named by
//! `CYBERLABEL_CATALOG` (same format as `crates/core/catalog/schemes.json`; merged, no code change).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use cyberlabel_core::catalog::{Catalog, SchemeKind};

/// Environment variable naming an extra catalog JSON file to merge into the built-in one.
pub const CATALOG_ENV: &str = "CYBERLABEL_CATALOG";

/// Arguments of `schemes`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show only this scheme (id, e.g. SG-CLS), with its provision list.
    scheme: Option<String>,
    /// Print the catalog as JSON (the format an issuing body uses to add its own schemes).
    #[arg(long)]
    json: bool,
}

/// The catalog: built-in, merged with `$CYBERLABEL_CATALOG` if set.
pub fn catalog() -> Result<Catalog> {
    let mut catalog = Catalog::builtin();
    if catalog.schemes.is_empty() {
        anyhow::bail!("the built-in scheme catalog failed to load: this build is broken");
    }
    if let Some(path) = std::env::var_os(CATALOG_ENV).map(PathBuf::from) {
        let bytes = crate::util::read_bounded(&path, 1024 * 1024, "catalog file")?;
        let text = String::from_utf8(bytes).context("the catalog file is not UTF-8")?;
        let extra = Catalog::from_json(&text).with_context(|| {
            format!("{CATALOG_ENV}={}: fix the catalog JSON (see `cyberlabel schemes --json` for the format)", path.display())
        })?;
        catalog.merge(extra).with_context(|| {
            format!(
                "{CATALOG_ENV}={}: conflicts with the built-in catalog",
                path.display()
            )
        })?;
    }
    Ok(catalog)
}

/// Runs `schemes`.
pub fn run(args: Args) -> Result<ExitCode> {
    let catalog = catalog()?;
    if args.json {
        println!("{}", catalog.to_json());
        return Ok(ExitCode::SUCCESS);
    }
    let mut shown = 0;
    for scheme in &catalog.schemes {
        if args
            .scheme
            .as_deref()
            .is_some_and(|s| !s.eq_ignore_ascii_case(&scheme.id))
        {
            continue;
        }
        shown += 1;
        let kind = match scheme.kind {
            SchemeKind::MultiLevel => "multi-level",
            SchemeKind::Binary => "binary (pass)",
            SchemeKind::Descriptive => "descriptive",
            _ => "other",
        };
        println!(
            "{} (catalog version {}) — {}",
            scheme.id, scheme.version, scheme.name
        );
        println!("  owner: {} ({}); {kind}", scheme.owner, scheme.country);
        for level in &scheme.levels {
            // The product-file / API spelling (`third_party`), from the catalog's own serde names.
            let assessment: Vec<String> = level
                .assessment
                .iter()
                .map(|a| {
                    serde_json::to_value(a)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_else(|| format!("{a:?}"))
                })
                .collect();
            println!(
                "  level {} = {}: {} [assessment: {}]",
                level.level,
                level.name,
                level.meaning,
                assessment.join(", ")
            );
        }
        match scheme.validity.max_days {
            Some(d) => println!("  validity: at most {d} days"),
            None => println!("  validity: no published maximum"),
        }
        if scheme.validity.tied_to_support {
            println!("  a label may not outlive the product's security support");
        }
        let labs: Vec<String> = catalog
            .labs_of(&scheme.id)
            .map(|l| format!("{} = {} (code {})", l.id, l.name, l.code))
            .collect();
        if !labs.is_empty() {
            println!("  labs (--lab): {}", labs.join("; "));
        }
        println!("  provisions: {}", scheme.provisions.len());
        if args.scheme.is_some() {
            for (i, p) in scheme.provisions.iter().enumerate() {
                println!("    [{i}] {} {}", p.id, p.title);
            }
        }
        println!();
    }
    if shown == 0 {
        let ids: Vec<&str> = catalog.schemes.iter().map(|s| s.id.as_str()).collect();
        anyhow::bail!(
            "no scheme {:?} in the catalog; known: {}",
            args.scheme.unwrap_or_default(),
            ids.join(", ")
        );
    }
    println!("product categories:");
    for c in &catalog.categories {
        println!("  {:>3} {}", c.code, c.name);
    }
    // The names `cyberlabel client suspend|revoke --reason` and the API accept.
    println!();
    println!("status reasons (code or name):");
    for c in (0..=u8::MAX).map_while(cyberlabel_core::status::ReasonCode::from_u8) {
        println!("  {:>3} {}", c.as_u8(), c.as_str());
    }
    Ok(ExitCode::SUCCESS)
}
