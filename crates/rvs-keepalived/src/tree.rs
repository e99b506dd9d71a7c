//! Lines of tokens → a tree of keyword nodes. Each node is a keyword, its arguments, and
//! optionally a `{ }` block of child nodes. keepalived's reader is line-based; braces
//! glued to words or several statements on one line (`auth { auth_type PASS }`) work
//! because the lexer makes braces tokens of their own.

use crate::diag::{Diag, Pos};
use crate::lexer::{Line, Tok};

/// Deepest block nesting accepted.
pub const MAX_DEPTH: usize = 64;

/// One keyword with its arguments and its block, if it opened one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub keyword: String,
    pub args: Vec<String>,
    pub pos: Pos,
    pub block: Option<Vec<Node>>,
}

impl Node {
    pub fn children(&self) -> &[Node] {
        self.block.as_deref().unwrap_or(&[])
    }
}

/// Build the tree; None when refused (the error is in `diags`). A `}` with no open
/// block is an error (nothing is loaded); blocks left
/// open at the end of the input are closed with a warning, as keepalived does
/// ("There are N missing '}'s").
pub fn build(lines: &[Line], diags: &mut Vec<Diag>) -> Option<Vec<Node>> {
    let mut stack: Vec<(Node, Vec<Node>)> = Vec::new();
    let mut cur_children: Vec<Node> = Vec::new();
    let mut last_pos = lines.first().map(|l| l.pos.clone());
    for line in lines {
        last_pos = Some(line.pos.clone());
        let mut stmt: Option<Node> = None;
        for (k, tok) in line.toks.iter().enumerate() {
            match tok {
                Tok::Word(w) => match &mut stmt {
                    Some(n) => n.args.push(w.clone()),
                    None => {
                        stmt = Some(Node {
                            keyword: w.clone(),
                            args: Vec::new(),
                            pos: line.pos.clone(),
                            block: None,
                        })
                    }
                },
                Tok::Open => {
                    let owner = match stmt.take() {
                        Some(n) => n,
                        // `keyword` then `{` alone on the next line.
                        None if k == 0
                            && cur_children.last().is_some_and(|n| n.block.is_none()) =>
                        {
                            cur_children.pop().expect("checked")
                        }
                        None => {
                            diags.push(Diag::warning(
                                &line.pos,
                                "{",
                                "'{' without a keyword; its block is ignored",
                            ));
                            Node {
                                keyword: "{".into(),
                                args: Vec::new(),
                                pos: line.pos.clone(),
                                block: None,
                            }
                        }
                    };
                    if stack.len() >= MAX_DEPTH {
                        // Nothing in keepalived.conf nests deeper than a handful of levels;
                        // the limit keeps recursive walks (and drops) of the tree shallow.
                        diags.push(Diag::error(&line.pos, "{", "blocks nested too deeply"));
                        return None;
                    }
                    stack.push((owner, std::mem::take(&mut cur_children)));
                }
                Tok::Close => {
                    if let Some(n) = stmt.take() {
                        cur_children.push(n);
                    }
                    let Some((mut owner, parent)) = stack.pop() else {
                        diags.push(Diag::error(&line.pos, "}", "extra '}' found"));
                        return None;
                    };
                    owner.block = Some(std::mem::replace(&mut cur_children, parent));
                    cur_children.push(owner);
                }
            }
        }
        if let Some(n) = stmt.take() {
            cur_children.push(n);
        }
    }
    if !stack.is_empty() {
        let pos = last_pos.unwrap_or_else(|| Pos::new("", 0));
        diags.push(Diag::warning(
            &pos,
            &stack[0].0.keyword,
            format!(
                "there are {} missing '}}'s at end of input; block '{}' opened at line {} closed there",
                stack.len(),
                stack.last().map(|s| s.0.keyword.as_str()).unwrap_or(""),
                stack.last().map(|s| s.0.pos.line).unwrap_or(0),
            ),
        ));
        while let Some((mut owner, parent)) = stack.pop() {
            owner.block = Some(std::mem::replace(&mut cur_children, parent));
            cur_children.push(owner);
        }
    }
    Some(cur_children)
}
