;; Kotlin: line and block comments, KDoc included.
[(line_comment) (block_comment)] @comment
