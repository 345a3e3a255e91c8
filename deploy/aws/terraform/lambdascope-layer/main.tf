# Publishes the Lambdascope extension as one Lambda layer version per
# architecture. Attach the output ARN to a function and set
# LAMBDASCOPE_ENDPOINT and LAMBDASCOPE_API_KEY in its environment.

resource "aws_lambda_layer_version" "this" {
  for_each = var.architectures

  layer_name               = "${var.name_prefix}-${each.key}"
  description              = "Lambdascope extension (${each.key})"
  filename                 = "${var.dist_dir}/lambdascope-extension-${each.key}.zip"
  source_code_hash         = filebase64sha256("${var.dist_dir}/lambdascope-extension-${each.key}.zip")
  compatible_architectures = [each.key]
  compatible_runtimes      = var.compatible_runtimes
  license_info             = var.license_info
}
