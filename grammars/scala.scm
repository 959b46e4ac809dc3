;; Scala: line, block and Scaladoc comments, and `<!-- -->` comments inside XML literals.
[(comment) (block_comment) (xml_comment)] @comment
