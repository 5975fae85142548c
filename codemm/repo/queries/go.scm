(function_declaration name: (identifier) @name) @definition.function
(method_declaration name: (field_identifier) @name) @definition.method
(type_spec name: (type_identifier) @name type: (struct_type)) @definition.struct
(type_spec name: (type_identifier) @name type: (interface_type)) @definition.interface
(type_spec name: (type_identifier) @name type: [(type_identifier) (qualified_type) (function_type) (map_type) (slice_type) (pointer_type)]) @definition.type
(source_file (const_declaration (const_spec name: (identifier) @name) @definition.constant))
(source_file (var_declaration (var_spec name: (identifier) @name) @definition.variable))

(call_expression function: [(identifier) @name (selector_expression field: (field_identifier) @name)]) @reference.call
(composite_literal type: (type_identifier) @name) @reference.type
(parameter_declaration type: [(type_identifier) @name (pointer_type (type_identifier) @name)]) @reference.type
(field_declaration type: [(type_identifier) @name (pointer_type (type_identifier) @name)]) @reference.type
(method_declaration receiver: (parameter_list (parameter_declaration type: [(type_identifier) @name (pointer_type (type_identifier) @name)]))) @reference.type
