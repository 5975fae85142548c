; Definitions and references for the repo map and symbol search.
; Convention: @name inside a @definition.<kind> or @reference.<kind> node.
(class_definition name: (identifier) @name) @definition.class
(function_definition name: (identifier) @name) @definition.function
(module (expression_statement (assignment left: (identifier) @name) @definition.constant))

(call function: [(identifier) @name (attribute attribute: (identifier) @name)]) @reference.call
(class_definition superclasses: (argument_list [(identifier) @name (attribute attribute: (identifier) @name)])) @reference.class
(type (identifier) @name) @reference.type
(import_from_statement name: (dotted_name (identifier) @name)) @reference.import
(import_from_statement name: (aliased_import name: (dotted_name (identifier) @name))) @reference.import
(decorator [(identifier) @name (attribute attribute: (identifier) @name)]) @reference.call
