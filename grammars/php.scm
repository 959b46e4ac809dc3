;; Comments in php. See grammars/README.md for the capture contract.
(comment) @comment
