//! A small RFC 4180 CSV reader for the district office's spreadsheets:
//! UTF-8 with or without a BOM (Excel writes one), quoted fields with
//! embedded commas, quotes and newlines, and the 1-based line each row
//! starts on so validation errors can point at it. It never interprets fields.

/// One data row with the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub line: usize,
    pub fields: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CsvError {
    #[error("line {0}: a quoted field is never closed")]
    Unclosed(usize),
    #[error("line {line}: unexpected character after a closing quote")]
    AfterQuote { line: usize },
}

/// Splits `text` into rows; blank lines are skipped.
pub fn parse(text: &str) -> Result<Vec<Row>, CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut row_line = 1;
    let mut chars = text.chars().peekable();
    let mut quoted_field = false;
    let end_row = |fields: &mut Vec<String>, field: &mut String, quoted: bool, rows: &mut Vec<Row>, row_line: usize| {
        fields.push(std::mem::take(field));
        let blank = fields.len() == 1 && fields[0].trim().is_empty() && !quoted;
        if !blank {
            rows.push(Row { line: row_line, fields: std::mem::take(fields) });
        } else {
            fields.clear();
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '"' if field.is_empty() && !quoted_field => {
                quoted_field = true;
                let start = line;
                loop {
                    match chars.next() {
                        None => return Err(CsvError::Unclosed(start)),
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(ch) => {
                            if ch == '\n' {
                                line += 1;
                            }
                            field.push(ch);
                        }
                    }
                }
                match chars.peek() {
                    None | Some(',') | Some('\n') | Some('\r') => {}
                    Some(_) => return Err(CsvError::AfterQuote { line }),
                }
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                quoted_field = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                end_row(&mut fields, &mut field, quoted_field, &mut rows, row_line);
                quoted_field = false;
                line += 1;
                row_line = line;
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !fields.is_empty() || quoted_field {
        end_row(&mut fields, &mut field, quoted_field, &mut rows, row_line);
    }
    Ok(rows)
}

/// Rows with a header: fields looked up by column name (case-insensitive, trimmed).
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Row>,
}

impl Table {
    pub fn parse(text: &str) -> Result<Table, CsvError> {
        let mut rows = parse(text)?;
        if rows.is_empty() {
            return Ok(Table { header: vec![], rows });
        }
        let header = rows.remove(0).fields.into_iter().map(|h| h.trim().to_ascii_lowercase()).collect();
        Ok(Table { header, rows })
    }

    pub fn col(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The trimmed field of `row` in column `name`, or "" when absent.
    pub fn get<'a>(&self, row: &'a Row, name: &str) -> &'a str {
        self.col(name).and_then(|i| row.fields.get(i)).map(|s| s.trim()).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bom_quoted_commas_and_crlf_are_read_like_excel_writes_them() {
        let rows = parse("\u{feff}id,name\r\nm1,\"张三, 老\"\r\nm2,\"say \"\"hi\"\"\"\r\n").unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].fields, vec!["id", "name"]);
        assert_eq!(rows[1].fields, vec!["m1", "张三, 老"]);
        assert_eq!(rows[2].fields, vec!["m2", "say \"hi\""]);
    }

    #[test]
    fn rows_keep_the_line_they_start_on_across_blank_lines_and_quoted_newlines() {
        let rows = parse("a,b\n\n\"x\ny\",1\nz,2").unwrap();
        assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), vec![1, 3, 5]);
        assert_eq!(rows[1].fields[0], "x\ny");
    }

    #[test]
    fn an_unclosed_quote_is_an_error_naming_its_line() {
        assert_eq!(parse("a\n\"open,1\n"), Err(CsvError::Unclosed(2)));
        assert_eq!(parse("\"a\"b,1"), Err(CsvError::AfterQuote { line: 1 }));
    }
}
