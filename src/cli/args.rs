//! A tiny argument reader: `--name value`, `--name=value`, bare `--flag`s
//! and positionals. Every mistake is a one-line [`CliError`] naming the
//! argument.

use std::fmt;

/// A command-line mistake; printed as one line, exit status 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError(pub String);

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parsed arguments, in the order given.
#[derive(Debug, Default)]
pub struct Args {
    options: Vec<(String, String)>,
    flags: Vec<String>,
    /// Arguments that are not options.
    pub positional: Vec<String>,
}

impl Args {
    /// Reads `args`: `takes_value` names the options that need a value,
    /// `flags` those that stand alone; anything else starting with `--` is
    /// an error.
    pub fn parse(args: &[String], takes_value: &[&str], flags: &[&str]) -> Result<Args, CliError> {
        let mut parsed = Args::default();
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            let Some(name) = arg.strip_prefix("--") else {
                parsed.positional.push(arg.clone());
                continue;
            };
            let (name, inline) = match name.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (name, None),
            };
            if flags.contains(&name) && inline.is_none() {
                parsed.flags.push(name.to_owned());
            } else if takes_value.contains(&name) {
                let value = match inline {
                    Some(value) => value,
                    None => rest
                        .next()
                        .cloned()
                        .ok_or_else(|| CliError(format!("--{name}: needs a value")))?,
                };
                parsed.options.push((name.to_owned(), value));
            } else {
                return Err(CliError(format!("{arg}: unknown option (see --help)")));
            }
        }
        Ok(parsed)
    }

    /// The last value of `--name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeatable `--name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.options
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `--name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }
}

/// `--header 'name: value'` as `(lower-case name, value)`.
pub fn header(raw: &str) -> Result<(String, String), CliError> {
    let fail = || CliError(format!("--header {raw:?}: expected 'name: value'"));
    let (name, value) = raw.split_once(':').ok_or_else(fail)?;
    let name = name.trim();
    if !presign::sigv4::is_token(name) {
        return Err(fail());
    }
    Ok((name.to_ascii_lowercase(), value.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn reads_values_flags_and_positionals() {
        let args = Args::parse(
            &strings(&["u", "--a", "1", "--b=2", "--v", "--a", "3"]),
            &["a", "b"],
            &["v"],
        )
        .unwrap();
        assert_eq!(args.get("a"), Some("3"));
        assert_eq!(args.all("a").collect::<Vec<_>>(), ["1", "3"]);
        assert_eq!(args.get("b"), Some("2"));
        assert!(args.flag("v"));
        assert_eq!(args.positional, ["u"]);
    }

    #[test]
    fn names_the_bad_argument() {
        let e = Args::parse(&strings(&["--nope"]), &[], &[]).unwrap_err();
        assert!(e.0.starts_with("--nope"));
        let e = Args::parse(&strings(&["--a"]), &["a"], &[]).unwrap_err();
        assert_eq!(e.0, "--a: needs a value");
        assert!(header("no colon").is_err());
        assert!(header("bad name: x").is_err());
        assert_eq!(
            header("Content-Type:  image/png ").unwrap(),
            ("content-type".into(), "image/png".into())
        );
    }
}
