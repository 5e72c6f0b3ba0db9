//! The first of two futures to finish, without `tokio::select!` (which
//! would pull in tokio's macros for one use).

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;

/// Which of the two raced futures finished first.
pub(crate) enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Polls `left` then `right` until one finishes; the other is dropped.
pub(crate) async fn race<A: Future, B: Future>(left: A, right: B) -> Either<A::Output, B::Output> {
    let mut left = pin!(left);
    let mut right = pin!(right);
    poll_fn(|cx| {
        if let Poll::Ready(output) = left.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(output));
        }
        if let Poll::Ready(output) = right.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(output));
        }
        Poll::Pending
    })
    .await
}
