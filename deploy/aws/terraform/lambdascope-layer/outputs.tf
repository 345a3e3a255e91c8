output "layer_arns" {
  description = "Layer version ARN by architecture, for a function's layers list."
  value       = { for arch, layer in aws_lambda_layer_version.this : arch => layer.arn }
}

output "layer_versions" {
  description = "Layer version number by architecture."
  value       = { for arch, layer in aws_lambda_layer_version.this : arch => layer.version }
}
