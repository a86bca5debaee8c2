resource "dns_record" "www" {
  name = "www"
  ttl  = 300
}
