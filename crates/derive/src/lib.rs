//! Derive macros for lakemetrics' typed label sets: `#[derive(LabelValue)]` and
//! `#[derive(LabelSet)]`, re-exported by the `lakemetrics` facade (feature
//! `derive`, on by default). See `lakemetrics_core::LabelSet` for what they
//! implement.
//!
//! ```
//! use lakemetrics_core::Registry;
//! use lakemetrics_derive::{LabelSet, LabelValue};
//!
//! /// A label value: variant names in snake case, or `rename`d.
//! #[derive(Clone, Copy, LabelValue)]
//! #[label(crate = lakemetrics_core)]
//! enum Format {
//!     Csv,
//!     #[label(rename = "parquet_v2")]
//!     Parquet,
//! }
//!
//! /// A single-label set: the enum itself, with the label's name.
//! #[derive(Clone, Copy, LabelSet)]
//! #[label(crate = lakemetrics_core, name = "outcome")]
//! enum Outcome {
//!     Success,
//!     Failure,
//! }
//!
//! /// A label set of several labels: a struct of label values, labels named
//! /// after its fields.
//! #[derive(Clone, Copy, LabelSet)]
//! #[label(crate = lakemetrics_core)]
//! struct Batch {
//!     format: Format,
//!     outcome: Outcome,
//! }
//!
//! let reg = Registry::new();
//! let batches = reg.typed_counter::<Batch>("batches_total", &[]).unwrap();
//! batches.get(&Batch { format: Format::Parquet, outcome: Outcome::Failure }).inc();
//! let c = reg
//!     .counter("batches_total", &[("format", "parquet_v2"), ("outcome", "failure")])
//!     .unwrap();
//! assert_eq!(c.get(), 1);
//! assert_eq!(reg.series_count(), 4);
//! ```
//!
//! Mistakes are compile errors that say what is wrong: a variant with fields,
//!
//! ```compile_fail
//! #[derive(lakemetrics_derive::LabelValue)]
//! #[label(crate = lakemetrics_core)]
//! enum Format { Csv, Other(String) }
//! ```
//!
//! an enum label set without its label's name,
//!
//! ```compile_fail
//! #[derive(lakemetrics_derive::LabelSet)]
//! #[label(crate = lakemetrics_core)]
//! enum Outcome { Success, Failure }
//! ```
//!
//! or a field that is not a label value.
//!
//! ```compile_fail
//! #[derive(lakemetrics_derive::LabelSet)]
//! #[label(crate = lakemetrics_core)]
//! struct Request { handler: String }
//! ```
//!
//! Attributes: on the type, `#[label(crate = path)]` (the crate that exports
//! the traits: `lakemetrics` by default) and, on an enum deriving `LabelSet`,
//! `#[label(name = "...")]` (required); on a variant or a field,
//! `#[label(rename = "...")]`.

#![warn(missing_docs)]

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::quote;
use syn::{parse_macro_input, Attribute, Data, DeriveInput, Fields, LitStr, Path};

/// Implements `LabelValue` for a field-less enum.
#[proc_macro_derive(LabelValue, attributes(label))]
pub fn derive_label_value(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input, false)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Implements `LabelSet` for a struct of `LabelValue` fields, or `LabelSet`
/// and `LabelValue` for a field-less enum with `#[label(name = "...")]`.
#[proc_macro_derive(LabelSet, attributes(label))]
pub fn derive_label_set(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input, true)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// What `#[label(...)]` on the type says.
#[derive(Default)]
struct TypeAttrs {
    krate: Option<Path>,
    name: Option<LitStr>,
}

fn type_attrs(attrs: &[Attribute]) -> syn::Result<TypeAttrs> {
    let mut out = TypeAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("label")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                out.krate = Some(meta.value()?.parse()?);
                Ok(())
            } else if meta.path.is_ident("name") {
                out.name = Some(meta.value()?.parse()?);
                Ok(())
            } else {
                Err(meta.error("expected `crate = path` or `name = \"...\"`"))
            }
        })?;
    }
    Ok(out)
}

/// `#[label(rename = "...")]` on a variant or field.
fn rename(attrs: &[Attribute]) -> syn::Result<Option<LitStr>> {
    let mut out = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("label")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                out = Some(meta.value()?.parse()?);
                Ok(())
            } else {
                Err(meta.error("expected `rename = \"...\"`"))
            }
        })?;
    }
    Ok(out)
}

/// `HttpError` -> `http_error`, `IOError` -> `io_error`.
fn snake_case(ident: &str) -> String {
    let chars: Vec<char> = ident.chars().collect();
    let mut out = String::with_capacity(ident.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1);
            let boundary = match prev {
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_uppercase() => next.is_some_and(|n| n.is_lowercase()),
                _ => false,
            };
            if boundary {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn expand(input: &DeriveInput, set: bool) -> syn::Result<TokenStream2> {
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "label sets and values cannot be generic",
        ));
    }
    let TypeAttrs { krate, name } = type_attrs(&input.attrs)?;
    let krate = krate.unwrap_or_else(|| syn::parse_quote!(::lakemetrics));
    let ident = &input.ident;
    match &input.data {
        Data::Enum(e) => {
            let mut values = Vec::new();
            let mut arms = Vec::new();
            for (i, v) in e.variants.iter().enumerate() {
                if !matches!(v.fields, Fields::Unit) {
                    return Err(syn::Error::new_spanned(
                        v,
                        "label values are field-less enum variants",
                    ));
                }
                let value = match rename(&v.attrs)? {
                    Some(l) => l.value(),
                    None => snake_case(&v.ident.to_string()),
                };
                values.push(LitStr::new(&value, Span::call_site()));
                let vi = &v.ident;
                arms.push(quote! { #ident::#vi => #i });
            }
            if values.is_empty() {
                return Err(syn::Error::new_spanned(
                    ident,
                    "a label value enum needs at least one variant",
                ));
            }
            let value_impl = quote! {
                impl #krate::LabelValue for #ident {
                    const VALUES: &'static [&'static str] = &[#(#values),*];
                    #[inline]
                    fn ordinal(&self) -> usize {
                        match *self {
                            #(#arms,)*
                        }
                    }
                }
            };
            if !set {
                if let Some(name) = &name {
                    return Err(syn::Error::new_spanned(
                        name,
                        "`name` is for `#[derive(LabelSet)]`",
                    ));
                }
                return Ok(value_impl);
            }
            let Some(name) = name else {
                return Err(syn::Error::new_spanned(
                    ident,
                    "an enum deriving `LabelSet` needs `#[label(name = \"...\")]`",
                ));
            };
            Ok(quote! {
                #value_impl
                impl #krate::LabelSet for #ident {
                    const NAMES: &'static [&'static str] = &[#name];
                    const CARDINALITY: usize =
                        <#ident as #krate::LabelValue>::VALUES.len();
                    #[inline]
                    fn index(&self) -> usize {
                        #krate::LabelValue::ordinal(self)
                    }
                    fn value(index: usize, _label: usize) -> &'static str {
                        match <#ident as #krate::LabelValue>::VALUES.get(index) {
                            Some(v) => v,
                            None => "",
                        }
                    }
                }
            })
        }
        Data::Struct(s) if set => {
            if name.is_some() {
                return Err(syn::Error::new_spanned(
                    ident,
                    "`name` is for enums; a struct's labels are named after its fields",
                ));
            }
            let Fields::Named(fields) = &s.fields else {
                return Err(syn::Error::new_spanned(
                    &s.fields,
                    "a label set struct has named fields (the label names)",
                ));
            };
            let mut names = Vec::new();
            let mut counts = Vec::new();
            let mut idents = Vec::new();
            for f in &fields.named {
                let fi = f.ident.as_ref().ok_or_else(|| {
                    syn::Error::new_spanned(f, "a label set struct has named fields")
                })?;
                let name = match rename(&f.attrs)? {
                    Some(l) => l,
                    None => {
                        let s = fi.to_string();
                        LitStr::new(s.strip_prefix("r#").unwrap_or(&s), fi.span())
                    }
                };
                names.push(name);
                let ty = &f.ty;
                counts.push(quote! { <#ty as #krate::LabelValue>::VALUES.len() });
                idents.push((fi.clone(), ty));
            }
            // Mixed radix, the last field least significant.
            let mut index = quote! { 0usize };
            for ((fi, _), n) in idents.iter().zip(&counts) {
                index = quote! { (#index) * (#n) + #krate::LabelValue::ordinal(&self.#fi) };
            }
            let value_arms = idents.iter().enumerate().map(|(j, (_, ty))| {
                let later = &counts[j + 1..];
                quote! {
                    #j => {
                        let stride: usize = 1 #(* (#later))*;
                        let values = <#ty as #krate::LabelValue>::VALUES;
                        match values.get((index / stride) % values.len().max(1)) {
                            Some(v) => v,
                            None => "",
                        }
                    }
                }
            });
            Ok(quote! {
                impl #krate::LabelSet for #ident {
                    const NAMES: &'static [&'static str] = &[#(#names),*];
                    const CARDINALITY: usize = 1 #(* (#counts))*;
                    #[inline]
                    fn index(&self) -> usize {
                        #index
                    }
                    fn value(index: usize, label: usize) -> &'static str {
                        match label {
                            #(#value_arms)*
                            _ => "",
                        }
                    }
                }
            })
        }
        Data::Struct(_) => Err(syn::Error::new_spanned(
            ident,
            "`LabelValue` is derived for field-less enums; derive `LabelSet` for a struct",
        )),
        Data::Union(_) => Err(syn::Error::new_spanned(ident, "unions are not label sets")),
    }
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn variant_names_become_snake_case() {
        assert_eq!(snake_case("Success"), "success");
        assert_eq!(snake_case("HttpError"), "http_error");
        assert_eq!(snake_case("IOError"), "io_error");
        assert_eq!(snake_case("Status404"), "status404");
        assert_eq!(snake_case("V2Api"), "v2_api");
    }
}
