//! Jupyter notebooks (nbformat 4): their code cells' source.

use crate::error::{Error, Result};
use serde::Deserialize;

#[derive(Deserialize)]
struct Notebook {
    nbformat: Option<u64>,
    #[serde(default)]
    cells: Vec<Cell>,
}

#[derive(Deserialize)]
struct Cell {
    cell_type: String,
    #[serde(default)]
    source: Source,
}

/// A cell's source: one string, or lines that keep their own newlines.
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Source {
    One(String),
    Lines(Vec<String>),
    #[default]
    None,
}

/// The code cells of a notebook, by their index among all its cells, with their source
/// joined (a list of lines is joined with nothing: each line keeps its `\n`).
///
/// # Errors
/// [`Error::Parse`] for text that is not JSON, not a notebook, or not nbformat 4.
pub fn code_cells(bytes: &[u8]) -> Result<Vec<(usize, String)>> {
    let what = "notebook";
    let nb: Notebook = serde_json::from_slice(bytes).map_err(|e| Error::parse(what, e.to_string()))?;
    match nb.nbformat {
        Some(4) => {}
        Some(v) => return Err(Error::parse(what, format!("nbformat {v}; only nbformat 4 is read"))),
        None => return Err(Error::parse(what, "no nbformat: not a Jupyter notebook")),
    }
    Ok(nb
        .cells
        .into_iter()
        .enumerate()
        .filter(|(_, c)| c.cell_type == "code")
        .map(|(i, c)| {
            let text = match c.source {
                Source::One(s) => s,
                Source::Lines(lines) => lines.concat(),
                Source::None => String::new(),
            };
            (i, text)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_strings_or_lines_joined_with_nothing() {
        let nb = r##"{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
            {"cell_type": "markdown", "source": "# s3://lake/sales", "metadata": {}},
            {"cell_type": "code", "source": ["a = 1\n", "b = 2"], "metadata": {}, "outputs": [], "execution_count": null},
            {"cell_type": "code", "source": "c = 3", "metadata": {}, "outputs": [], "execution_count": 4}]}"##;
        assert_eq!(code_cells(nb.as_bytes()).unwrap(), [(1, "a = 1\nb = 2".to_string()), (2, "c = 3".to_string())]);
        assert_eq!(code_cells(b"{\"nbformat\": 3, \"cells\": []}").unwrap_err().kind(), "parse");
        assert_eq!(code_cells(b"{not json").unwrap_err().kind(), "parse");
        assert_eq!(code_cells(b"{\"cells\": [{\"cell_type\": \"code\", \"source\": 5}]}").unwrap_err().kind(), "parse");
    }
}
