//! A read-only view of the built-in [`World`](crate::world::World) with `'static` borrows, kept
//! for code written against the old hard-coded corpus (`corpus::PAGES`, `corpus::search`).
//! New code should use [`crate::world::World`] (which can also be loaded from a file).

use std::sync::LazyLock;

use serde::Serialize;

use crate::world::{PostQuery, World};

/// One page of the built-in world.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub url: &'static str,
    pub title: &'static str,
    /// The page text a scraper returns.
    pub text: &'static str,
    /// Search keywords beyond the words of the title and text.
    pub tags: Vec<&'static str>,
    /// ISO date the page claims.
    pub date: &'static str,
}

/// One post of the built-in world.
#[derive(Debug, Clone, Serialize)]
pub struct Post {
    pub uri: &'static str,
    pub username: &'static str,
    pub datetime: &'static str,
    pub text: &'static str,
}

static VIEW: LazyLock<(Vec<Page>, Vec<Post>)> = LazyLock::new(|| {
    let w = World::builtin_static();
    let pages = w
        .pages
        .iter()
        .map(|p| Page {
            url: &p.url,
            title: &p.title,
            text: &p.text,
            tags: p.tags.iter().map(String::as_str).collect(),
            date: &p.date,
        })
        .collect();
    let posts = w
        .posts
        .iter()
        .map(|p| Post { uri: &p.uri, username: &p.username, datetime: &p.datetime, text: &p.text })
        .collect();
    (pages, posts)
});

/// Every page of the built-in world (`for p in PAGES { .. }`).
#[derive(Debug, Clone, Copy)]
pub struct Pages;

/// Every page of the built-in world.
pub const PAGES: Pages = Pages;

impl IntoIterator for Pages {
    type Item = &'static Page;
    type IntoIter = std::slice::Iter<'static, Page>;
    fn into_iter(self) -> Self::IntoIter {
        VIEW.0.iter()
    }
}

impl Pages {
    pub fn iter(self) -> std::slice::Iter<'static, Page> {
        VIEW.0.iter()
    }
    pub fn len(self) -> usize {
        VIEW.0.len()
    }
    pub fn is_empty(self) -> bool {
        VIEW.0.is_empty()
    }
}

fn view_of(p: &crate::world::Page) -> Option<&'static Page> {
    VIEW.0.iter().find(|v| v.url == p.url)
}

/// Pages of the built-in world matching a query, best first (see [`World::search`]).
pub fn search(query: &str, limit: usize) -> Vec<&'static Page> {
    World::builtin_static().search(query, limit).into_iter().filter_map(view_of).collect()
}

pub fn page(url: &str) -> Option<&'static Page> {
    VIEW.0.iter().find(|p| p.url == url)
}

/// Posts whose text matches any keyword (or all, with `all`), newest first.
pub fn posts(keywords: &[String], usernames: &[String], all: bool, limit: usize) -> Vec<&'static Post> {
    let q =
        PostQuery { keywords: keywords.to_vec(), usernames: usernames.to_vec(), all, limit, ..PostQuery::default() };
    World::builtin_static().query_posts(&q).into_iter().filter_map(|p| VIEW.1.iter().find(|v| v.uri == p.uri)).collect()
}
