# The demo infrastructure: what `fake-tf` plans and applies.
resource "network" "main" {
  cidr = "10.0.0.0/16"
}

resource "subnet" "web" {
  network = "main"
  cidr    = "10.0.1.0/24"
}
