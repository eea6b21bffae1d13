//! Imports an interface the host does not provide: loading it must fail
//! before anything runs.

wit_bindgen::generate!({
    inline: "
        package test:unknown;
        interface oracle { ask: func() -> string; }
        world task {
            import oracle;
            export run: func(input: string) -> string;
        }
    ",
});

struct Task;

export!(Task);

impl Guest for Task {
    fn run(input: String) -> String {
        test::unknown::oracle::ask() + &input
    }
}
