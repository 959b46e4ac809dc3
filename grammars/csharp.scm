;; Comments in csharp. See grammars/README.md for the capture contract.
(comment) @comment
