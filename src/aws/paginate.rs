//! Following the `nextToken` of the List* operations.

use std::future::Future;

use crate::platform::ApiResult;

/// Every item of a paginated listing. `page` sends one request with the token it is given
/// (None for the first) and returns that page's items and its `nextToken`; the listing ends
/// at the first page without one (or with an empty one), or at the first error, which is
/// returned as it came. One call of `page` per page: the caller counts requests there.
pub(super) async fn paginate<T, F, Fut>(mut page: F) -> ApiResult<Vec<T>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = ApiResult<(Vec<T>, Option<String>)>>,
{
    let mut items = Vec::new();
    let mut next_token = None;
    loop {
        let (mut got, next) = page(next_token.take()).await?;
        items.append(&mut got);
        match next {
            Some(t) if !t.is_empty() => next_token = Some(t),
            _ => return Ok(items),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::paginate;
    use crate::platform::{ApiError, ApiErrorKind, ApiResult};

    /// Serves `pages` in order, recording the token each request carried.
    async fn list(
        pages: Vec<ApiResult<(Vec<u32>, Option<&str>)>>,
    ) -> (ApiResult<Vec<u32>>, Vec<Option<String>>) {
        let pages = Mutex::new(pages.into_iter());
        let tokens = Mutex::new(Vec::new());
        let got = paginate(|token| {
            tokens.lock().unwrap().push(token);
            let next = pages
                .lock()
                .unwrap()
                .next()
                .expect("a request past the last page");
            async move { next.map(|(items, t)| (items, t.map(String::from))) }
        })
        .await;
        (got, tokens.into_inner().unwrap())
    }

    #[tokio::test]
    async fn pages_are_followed_until_one_has_no_token() {
        let (got, tokens) = list(vec![
            Ok((vec![1, 2], Some("t1"))),
            Ok((vec![], Some("t2"))),
            Ok((vec![3], None)),
        ])
        .await;
        assert_eq!(got.unwrap(), [1, 2, 3]);
        assert_eq!(tokens, [None, Some("t1".into()), Some("t2".into())]);
    }

    #[tokio::test]
    async fn an_empty_token_ends_the_listing() {
        let (got, tokens) = list(vec![Ok((vec![7], Some("")))]).await;
        assert_eq!(got.unwrap(), [7]);
        assert_eq!(tokens, [None]);
    }

    #[tokio::test]
    async fn an_error_ends_the_listing_with_it() {
        let (got, tokens) = list(vec![
            Ok((vec![1], Some("t1"))),
            Err(ApiError::new(
                "ListTasks",
                ApiErrorKind::Throttled,
                "slow down",
            )),
        ])
        .await;
        let err = got.unwrap_err();
        assert_eq!(
            (err.operation, err.kind),
            ("ListTasks", ApiErrorKind::Throttled)
        );
        assert_eq!(tokens, [None, Some("t1".into())]);
    }
}
