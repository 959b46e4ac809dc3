;; Java: line and block comments, Javadoc included.
[(line_comment) (block_comment)] @comment
