//! `#[sandstep::task]`: turns a typed function into the `run` export of the `sandstep:task/task`
//! world. Use it through the `sandstep-sdk` crate, which re-exports it as `sandstep::task`.
//!
//! The expansion is the author's function, untouched, plus a hidden module holding a struct
//! that implements the world's `Guest` trait by calling `::sandstep::__private::call` with the
//! function, and the export call that makes the struct the component's export. Every path in
//! it is fully qualified, so a task crate depends on `sandstep-sdk` and `serde` alone. The
//! bindings themselves are generated once, inside the SDK; this crate does not read `wit/`.

use proc_macro::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, ReturnType, Type};

/// Turns `fn NAME(input: In, ctx: &sandstep::Context) -> Result<Out, sandstep::Error>` into
/// the task this component exports. See the `sandstep` crate for details.
#[proc_macro_attribute]
pub fn task(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = proc_macro2::TokenStream::from(attr);
    let func = syn::parse_macro_input!(item as ItemFn);
    match expand(attr, func) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

const SHAPE: &str =
    "fn run(input: MyInput, ctx: &sandstep::Context) -> Result<MyOutput, sandstep::Error>";

fn expand(attr: proc_macro2::TokenStream, func: ItemFn) -> syn::Result<proc_macro2::TokenStream> {
    if !attr.is_empty() {
        return Err(syn::Error::new_spanned(
            attr,
            "#[sandstep::task] takes no arguments",
        ));
    }
    check_signature(&func)?;
    let name = &func.sig.ident;
    // Type errors in the author's parameter or result types point at their signature.
    let call = quote_spanned! {func.sig.span()=>
        ::sandstep::__private::call(input, ctx, super::#name)
    };
    Ok(quote! {
        #func

        #[doc(hidden)]
        mod __sandstep_task {
            #[doc(hidden)]
            pub struct Task;

            impl ::sandstep::__private::bindings::Guest for Task {
                fn run(
                    input: ::std::string::String,
                    ctx: ::sandstep::__private::bindings::Context,
                ) -> ::std::result::Result<
                    ::std::string::String,
                    ::sandstep::__private::bindings::TaskError,
                > {
                    #call
                }
            }

            ::sandstep::__private::export!(Task);
        }
    })
}

fn check_signature(func: &ItemFn) -> syn::Result<()> {
    let sig = &func.sig;
    let fail = |tokens: &dyn quote::ToTokens, what: &str| {
        Err(syn::Error::new_spanned(
            tokens,
            format!("#[sandstep::task] {what}; expected `{SHAPE}`"),
        ))
    };
    if let Some(asyncness) = &sig.asyncness {
        return fail(asyncness, "functions cannot be async");
    }
    if let Some(constness) = &sig.constness {
        return fail(constness, "functions cannot be const");
    }
    if let Some(unsafety) = &sig.unsafety {
        return fail(unsafety, "functions cannot be unsafe");
    }
    if let Some(abi) = &sig.abi {
        return fail(abi, "functions cannot declare an ABI");
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return fail(&sig.generics, "functions cannot be generic");
    }
    if let Some(variadic) = &sig.variadic {
        return fail(variadic, "functions cannot be variadic");
    }
    let inputs: Vec<&FnArg> = sig.inputs.iter().collect();
    let [input, ctx] = inputs.as_slice() else {
        let tokens: &dyn quote::ToTokens = if sig.inputs.is_empty() {
            &sig.ident
        } else {
            &sig.inputs
        };
        return fail(
            tokens,
            "functions take two parameters, the input and the context",
        );
    };
    let input_ty = typed(input, "the input")?;
    if let Type::Reference(r) = input_ty {
        return fail(
            r,
            "input must be an owned type (the input is decoded anew for each call)",
        );
    }
    if matches!(input_ty, Type::ImplTrait(_)) {
        return fail(input_ty, "input must be a concrete type");
    }
    match typed(ctx, "the context")? {
        Type::Reference(r) if r.mutability.is_none() => {}
        other => return fail(other, "second parameter must be `&sandstep::Context`"),
    }
    match &sig.output {
        ReturnType::Default => fail(
            &sig.ident,
            "functions must return `Result<_, sandstep::Error>`",
        ),
        ReturnType::Type(_, ty) => {
            let is_result = matches!(&**ty, Type::Path(p)
                if p.qself.is_none() && p.path.segments.last().is_some_and(|s| s.ident == "Result"));
            if is_result {
                Ok(())
            } else {
                fail(ty, "functions must return `Result<_, sandstep::Error>`")
            }
        }
    }
}

fn typed<'a>(arg: &'a FnArg, what: &str) -> syn::Result<&'a Type> {
    match arg {
        FnArg::Typed(t) => Ok(&t.ty),
        FnArg::Receiver(r) => Err(syn::Error::new_spanned(
            r,
            format!("#[sandstep::task] cannot take `self` as {what}; expected `{SHAPE}`"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::*;

    fn error(func: ItemFn) -> String {
        expand(proc_macro2::TokenStream::new(), func)
            .map(|_| String::new())
            .unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn the_documented_shape_expands() {
        let func: ItemFn = parse_quote! {
            fn run(input: In, ctx: &sandstep::Context) -> Result<Out, sandstep::Error> { todo!() }
        };
        let tokens = expand(proc_macro2::TokenStream::new(), func)
            .expect("valid shape")
            .to_string();
        assert!(
            tokens.contains(":: sandstep :: __private :: call (input , ctx , super :: run)"),
            "{tokens}"
        );
        assert!(
            tokens.contains(":: sandstep :: __private :: export ! (Task)"),
            "{tokens}"
        );
    }

    #[test]
    fn wrong_signatures_are_named() {
        let cases: [(ItemFn, &str); 7] = [
            (
                parse_quote! { async fn run(i: In, c: &Context) -> Result<Out, Error> {} },
                "cannot be async",
            ),
            (
                parse_quote! { fn run(i: In) -> Result<Out, Error> {} },
                "take two parameters",
            ),
            (
                parse_quote! { fn run() -> Result<Out, Error> {} },
                "take two parameters",
            ),
            (
                parse_quote! { fn run(i: &str, c: &Context) -> Result<Out, Error> {} },
                "input must be an owned type",
            ),
            (
                parse_quote! { fn run(i: In, c: Context) -> Result<Out, Error> {} },
                "second parameter must be `&sandstep::Context`",
            ),
            (
                parse_quote! { fn run(i: In, c: &Context) -> Out {} },
                "must return `Result<_, sandstep::Error>`",
            ),
            (
                parse_quote! { fn run<T>(i: T, c: &Context) -> Result<Out, Error> {} },
                "cannot be generic",
            ),
        ];
        for (func, expected) in cases {
            let message = error(func);
            assert!(message.starts_with("#[sandstep::task]"), "{message}");
            assert!(
                message.contains(expected),
                "expected {expected:?} in {message:?}"
            );
        }
    }

    #[test]
    fn arguments_are_rejected() {
        let func: ItemFn = parse_quote! { fn run(i: In, c: &Context) -> Result<Out, Error> {} };
        let e = expand(quote!(retries = 3), func).expect_err("takes no arguments");
        assert_eq!(e.to_string(), "#[sandstep::task] takes no arguments");
    }
}
