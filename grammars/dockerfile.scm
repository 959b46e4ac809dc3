;; Comments in dockerfile. See grammars/README.md for the capture contract.
(comment) @comment
