//! A list that holds one element in place: for the per-real-server and per-check lists of
//! the daemon, which nearly always hold exactly one element, at tens of thousands of
//! instances (a vector would cost an allocation each).

use std::ops::{Deref, DerefMut};

/// Elements in order; none or one held in place, more in a vector. Reads as a slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOrMany<T>(Repr<T>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Repr<T> {
    None,
    One(T),
    Many(Vec<T>),
}

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        OneOrMany(Repr::None)
    }
}

impl<T> OneOrMany<T> {
    /// No element.
    pub fn new() -> Self {
        OneOrMany::default()
    }

    /// Adds an element at the end.
    pub fn push(&mut self, item: T) {
        self.0 = match std::mem::replace(&mut self.0, Repr::None) {
            Repr::None => Repr::One(item),
            Repr::One(first) => Repr::Many(vec![first, item]),
            Repr::Many(mut v) => {
                v.push(item);
                Repr::Many(v)
            }
        };
    }

    /// Keeps the elements for which `keep` holds, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        match &mut self.0 {
            Repr::None => {}
            Repr::One(x) => {
                if !keep(x) {
                    self.0 = Repr::None;
                }
            }
            Repr::Many(v) => {
                v.retain(|x| keep(x));
                match v.len() {
                    0 => self.0 = Repr::None,
                    1 => self.0 = v.pop().map_or(Repr::None, Repr::One),
                    _ => {}
                }
            }
        }
    }

    /// Whether the element is held in place (none or one).
    pub fn is_inline(&self) -> bool {
        !matches!(self.0, Repr::Many(_))
    }
}

impl<T> Deref for OneOrMany<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match &self.0 {
            Repr::None => &[],
            Repr::One(x) => std::slice::from_ref(x),
            Repr::Many(v) => v,
        }
    }
}

impl<T> DerefMut for OneOrMany<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match &mut self.0 {
            Repr::None => &mut [],
            Repr::One(x) => std::slice::from_mut(x),
            Repr::Many(v) => v,
        }
    }
}

impl<T> FromIterator<T> for OneOrMany<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut list = OneOrMany::new();
        for x in iter {
            list.push(x);
        }
        list
    }
}

impl<T> From<Vec<T>> for OneOrMany<T> {
    fn from(v: Vec<T>) -> Self {
        v.into_iter().collect()
    }
}

impl<'a, T> IntoIterator for &'a OneOrMany<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_in_place_more_in_a_vector_and_back() {
        let mut l = OneOrMany::new();
        assert!(l.is_empty() && l.is_inline());
        l.push(1);
        assert!(l.is_inline(), "one element: no vector");
        assert_eq!(&l[..], [1]);
        l.push(2);
        l.push(3);
        assert!(!l.is_inline());
        l[2] = 4;
        assert_eq!(&l[..], [1, 2, 4]);
        l.retain(|&x| x != 2);
        assert_eq!(&l[..], [1, 4]);
        l.retain(|&x| x == 4);
        assert!(l.is_inline() && l[..] == [4], "back in place");
        l.retain(|_| false);
        assert!(l.is_empty());
        assert_eq!(OneOrMany::from(vec![5, 6]).iter().sum::<i32>(), 11);
    }
}
