;; Rust: line and block comments, doc comments included (they are these nodes with a
;; doc_comment child).
[(line_comment) (block_comment)] @comment
