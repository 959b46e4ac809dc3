;; Scala: line, block and Scaladoc comments.
[(comment) (block_comment)] @comment
