fn main() {
    println!("fftconv");
}
