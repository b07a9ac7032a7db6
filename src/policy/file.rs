//! The policy file: one region's board decision as TOML, read strictly.
//!
//! Strict because a policy is the legal ground of every automated disclosure: a misspelt key, a
//! path to an element that does not exist or may not be removed, or two versions in force on
//! the same day must stop the hub from starting, with the file, line and key named, rather than
//! quietly disclose more than the board decided.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::condition::Condition;
use super::decision::Action;
use super::removal;
use crate::claim::normalise_patient_id;

/// Why a policy could not be loaded. Every variant names the file; most name line and key.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    Syntax {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file}:{line}: `{key}`: {message}")]
    Invalid {
        file: String,
        line: usize,
        key: String,
        message: String,
    },
    #[error("{0}: no policy files (*.toml) found")]
    Empty(String),
}

/// The board decision a policy implements: what every disclosure under it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardDecision {
    /// The decision's reference, e.g. `RS 2026-04-12 §58, dnr RS 2026/0123`.
    pub reference: String,
    /// The day the board decided, `YYYY-MM-DD`.
    pub date: String,
    /// The board, e.g. `Regionstyrelsen, Region Halland`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// One rule of a policy, in the order the file gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: String,
    pub description: String,
    pub action: Action,
    /// Line-relative paths of the elements to leave out (`action = "remove"` only); each is in
    /// [`removal::REMOVABLE`].
    pub remove: Vec<&'static str>,
    pub when: Condition,
    /// For withhold and reject: what the sender is told.
    pub reason: Option<String>,
}

/// Patient identities the region has marked protected ("skyddad identitet"): bases about them
/// are never disclosed through the service. Never printed, only counted.
#[derive(Clone, Default, PartialEq)]
pub struct ProtectedIdentities(HashSet<String>);

impl std::fmt::Debug for ProtectedIdentities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProtectedIdentities({} identities)", self.0.len())
    }
}

impl ProtectedIdentities {
    /// Reads one identity per line; blank lines and `#` comments are skipped.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
            file: path.display().to_string(),
            source,
        })?;
        Ok(Self::parse(&text))
    }

    pub fn parse(text: &str) -> Self {
        ProtectedIdentities(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(normalise_patient_id)
                .collect(),
        )
    }

    pub fn contains(&self, id: &str) -> bool {
        !self.0.is_empty() && self.0.contains(&normalise_patient_id(id))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One version of one region's policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub id: String,
    pub version: String,
    /// The sending region's organisation number: the policy applies to what it sends.
    pub region: String,
    pub description: Option<String>,
    pub board_decision: BoardDecision,
    pub valid_from: NaiveDate,
    /// Last day in force; `None` = until replaced.
    pub valid_to: Option<NaiveDate>,
    pub rules: Vec<Rule>,
    pub protected: ProtectedIdentities,
    /// The file it was read from, for messages.
    pub source: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    id: Spanned<String>,
    version: Spanned<String>,
    region: Spanned<String>,
    description: Option<String>,
    protected_identities: Option<Spanned<String>>,
    board_decision: Spanned<BoardDecision>,
    validity: Spanned<RawValidity>,
    #[serde(default, rename = "rule")]
    rules: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValidity {
    from: Spanned<String>,
    to: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    description: String,
    action: Action,
    remove: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    when: Condition,
    reason: Option<String>,
}

/// Turns byte offsets into line numbers and errors that name the file.
struct Source<'a> {
    file: String,
    text: &'a str,
}

impl Source<'_> {
    fn line(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }

    fn invalid<T>(&self, at: &Spanned<T>, key: &str, message: impl Into<String>) -> PolicyError {
        PolicyError::Invalid {
            file: self.file.clone(),
            line: self.line(at.span().start),
            key: key.into(),
            message: message.into(),
        }
    }
}

fn day(src: &Source<'_>, s: &Spanned<String>, key: &str) -> Result<NaiveDate, PolicyError> {
    NaiveDate::parse_from_str(s.get_ref().trim(), "%Y-%m-%d").map_err(|_| {
        src.invalid(
            s,
            key,
            format!("'{}' is not a date YYYY-MM-DD", s.get_ref()),
        )
    })
}

impl Policy {
    /// Reads and checks one policy file.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
            file: path.display().to_string(),
            source,
        })?;
        Policy::parse(&text, path)
    }

    /// Checks a policy given as text; `path` names it in errors and anchors the protected
    /// identities file.
    #[expect(
        clippy::too_many_lines,
        reason = "every check of a policy file in the order of its sections, each naming its field"
    )]
    pub fn parse(text: &str, path: &Path) -> Result<Policy, PolicyError> {
        let src = Source {
            file: path.display().to_string(),
            text,
        };
        let raw: RawPolicy = toml::from_str(text).map_err(|e| PolicyError::Syntax {
            file: src.file.clone(),
            line: e.span().map_or(1, |s| src.line(s.start)),
            message: e.message().trim().to_string(),
        })?;

        for (key, v) in [("id", &raw.id), ("version", &raw.version)] {
            if v.get_ref().trim().is_empty() {
                return Err(src.invalid(v, key, "must not be empty"));
            }
        }
        let region = raw.region.get_ref().trim();
        if region.len() != 10 || !region.bytes().all(|b| b.is_ascii_digit()) {
            return Err(src.invalid(
                &raw.region,
                "region",
                format!("'{region}' is not a 10-digit organisation number"),
            ));
        }
        let board = raw.board_decision.get_ref();
        if board.reference.trim().is_empty() {
            return Err(src.invalid(
                &raw.board_decision,
                "board_decision.reference",
                "every disclosure names the board decision: it must not be empty",
            ));
        }
        if NaiveDate::parse_from_str(board.date.trim(), "%Y-%m-%d").is_err() {
            return Err(src.invalid(
                &raw.board_decision,
                "board_decision.date",
                format!("'{}' is not a date YYYY-MM-DD", board.date),
            ));
        }
        let validity = raw.validity.get_ref();
        let valid_from = day(&src, &validity.from, "validity.from")?;
        let valid_to = match &validity.to {
            Some(to) => {
                let d = day(&src, to, "validity.to")?;
                if d < valid_from {
                    return Err(src.invalid(
                        to,
                        "validity.to",
                        format!("ends ({d}) before it starts ({valid_from})"),
                    ));
                }
                Some(d)
            }
            None => None,
        };

        if raw.rules.is_empty() {
            return Err(PolicyError::Invalid {
                file: src.file.clone(),
                line: 1,
                key: "rule".into(),
                message: "a policy needs at least one [[rule]]; with none, nothing is disclosed"
                    .into(),
            });
        }
        let mut ids = BTreeSet::new();
        let mut rules = Vec::with_capacity(raw.rules.len());
        for (i, spanned) in raw.rules.iter().enumerate() {
            let r = spanned.get_ref();
            let at = |k: &str| format!("rule[{i}].{k}");
            let id = r.id.get_ref().trim().to_string();
            if id.is_empty() {
                return Err(src.invalid(&r.id, &at("id"), "must not be empty"));
            }
            if !ids.insert(id.clone()) {
                return Err(src.invalid(&r.id, &at("id"), format!("'{id}' is used twice")));
            }
            let mut remove = Vec::new();
            match (r.action, &r.remove) {
                (Action::Remove, None) => {
                    return Err(src.invalid(
                        spanned,
                        &at("remove"),
                        "action \"remove\" needs a list of elements to remove",
                    ))
                }
                (Action::Remove, Some(list)) if list.is_empty() => {
                    return Err(src.invalid(
                        spanned,
                        &at("remove"),
                        "action \"remove\" needs at least one element",
                    ))
                }
                (Action::Remove, Some(list)) => {
                    for p in list {
                        let path = p.get_ref().trim().trim_matches('/');
                        match removal::find(path) {
                            Some(r) => remove.push(r.path),
                            None if removal::REQUIRED.contains(&path) => {
                                return Err(src.invalid(
                                    p,
                                    &at("remove"),
                                    format!(
                                        "'{path}' is required by the contract and cannot be \
                                         removed; withhold instead"
                                    ),
                                ))
                            }
                            None => {
                                return Err(src.invalid(
                                    p,
                                    &at("remove"),
                                    format!(
                                        "'{path}' is not an element a policy can remove (paths \
                                         are relative to healthCareServicesSpecificationLine, \
                                         e.g. 'healthcarePerformed/diagnosis'; docs/policy.md \
                                         lists them all)"
                                    ),
                                ))
                            }
                        }
                    }
                }
                (_, Some(list)) => {
                    let first = list.first().map_or(spanned.span(), |p| p.span());
                    return Err(PolicyError::Invalid {
                        file: src.file.clone(),
                        line: src.line(first.start),
                        key: at("remove"),
                        message: format!(
                            "only rules with action \"remove\" list elements to remove (this \
                             one is {:?})",
                            r.action
                        ),
                    });
                }
                (_, None) => {}
            }
            if let Some((key, message)) = r.when.problems().into_iter().next() {
                return Err(src.invalid(spanned, &at(&key), message));
            }
            rules.push(Rule {
                id,
                description: r.description.clone(),
                action: r.action,
                remove,
                when: r.when.clone(),
                reason: r.reason.clone(),
            });
        }

        let protected = match &raw.protected_identities {
            Some(p) => {
                let file = path
                    .parent()
                    .unwrap_or(Path::new("."))
                    .join(p.get_ref().trim());
                ProtectedIdentities::load(&file).map_err(|e| {
                    src.invalid(p, "protected_identities", format!("cannot be read: {e}"))
                })?
            }
            None => ProtectedIdentities::default(),
        };

        Ok(Policy {
            id: raw.id.into_inner().trim().to_string(),
            version: raw.version.into_inner().trim().to_string(),
            region: region.to_string(),
            description: raw.description,
            board_decision: raw.board_decision.into_inner(),
            valid_from,
            valid_to,
            rules,
            protected,
            source: path.to_path_buf(),
        })
    }

    /// Whether this version is in force on `day`.
    pub fn in_force(&self, day: NaiveDate) -> bool {
        self.valid_from <= day && self.valid_to.is_none_or(|to| day <= to)
    }

    fn overlaps(&self, other: &Policy) -> bool {
        let ends_after = |p: &Policy, d: NaiveDate| p.valid_to.is_none_or(|to| to >= d);
        ends_after(self, other.valid_from) && ends_after(other, self.valid_from)
    }
}

/// Every region's policies, every version; at most one per region in force on any day.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    by_region: BTreeMap<String, Vec<Policy>>,
}

impl PolicySet {
    /// Reads policy files; a directory contributes its `*.toml` files (sorted). Fails on the
    /// first bad file, or on two versions of one region's policy in force on the same day.
    pub fn load(paths: &[PathBuf]) -> Result<PolicySet, PolicyError> {
        let mut files = Vec::new();
        for p in paths {
            if p.is_dir() {
                let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                    .map_err(|source| PolicyError::Io {
                        file: p.display().to_string(),
                        source,
                    })?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                    .collect();
                if found.is_empty() {
                    return Err(PolicyError::Empty(p.display().to_string()));
                }
                found.sort();
                files.extend(found);
            } else {
                files.push(p.clone());
            }
        }
        let mut set = PolicySet::default();
        for f in files {
            set.add(Policy::load(&f)?)?;
        }
        Ok(set)
    }

    /// Adds one policy, refusing one whose validity overlaps another version of its region.
    pub fn add(&mut self, policy: Policy) -> Result<(), PolicyError> {
        let versions = self.by_region.entry(policy.region.clone()).or_default();
        if let Some(other) = versions.iter().find(|o| o.overlaps(&policy)) {
            let text = std::fs::read_to_string(&policy.source).unwrap_or_default();
            let line = text
                .lines()
                .position(|l| l.trim_start().starts_with("[validity]"))
                .map_or(1, |i| i + 1);
            return Err(PolicyError::Invalid {
                file: policy.source.display().to_string(),
                line,
                key: "validity".into(),
                message: format!(
                    "policy {} version {} ({} – {}) overlaps version {} in {} ({} – {}) for \
                     region {}: only one version may be in force on any day",
                    policy.id,
                    policy.version,
                    policy.valid_from,
                    policy.valid_to.map_or("open".into(), |d| d.to_string()),
                    other.version,
                    other.source.display(),
                    other.valid_from,
                    other.valid_to.map_or("open".into(), |d| d.to_string()),
                    policy.region
                ),
            });
        }
        versions.push(policy);
        versions.sort_by_key(|p| p.valid_from);
        Ok(())
    }

    /// One policy put in force for each of `regions` as the sending region. The example policy
    /// stands in for every region's board in demos, benchmarks, property tests and fuzzing; a
    /// real region's policy is its own board's decision and comes from [`PolicySet::load`].
    pub fn template<R: Into<String>>(
        policy: &Policy,
        regions: impl IntoIterator<Item = R>,
    ) -> PolicySet {
        let mut set = PolicySet::default();
        for region in regions {
            let region = region.into();
            set.by_region.insert(
                region.clone(),
                vec![Policy {
                    region,
                    ..policy.clone()
                }],
            );
        }
        set
    }

    /// The version of `region`'s policy in force on `day`.
    /// The sending regions that have at least one policy, in order.
    pub fn regions(&self) -> impl Iterator<Item = &str> {
        self.by_region.keys().map(String::as_str)
    }

    pub fn in_force(&self, region: &str, day: NaiveDate) -> Option<&Policy> {
        self.by_region.get(region)?.iter().find(|p| p.in_force(day))
    }

    /// Every policy, by region and start of validity.
    pub fn iter(&self) -> impl Iterator<Item = &Policy> {
        self.by_region.values().flatten()
    }

    pub fn is_empty(&self) -> bool {
        self.by_region.is_empty()
    }
}
