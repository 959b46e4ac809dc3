;; Python: `#` comments, and docstrings: a string that is a statement on its own. That covers
;; module, class and function docstrings (the first statement) and bare string "comments".
(comment) @comment
(expression_statement . (string) @doc .)
